# `dynamic` blocks generating groups, ports, constraints, checks,
# templates and spread targets from variables and locals.

variable "workers" {
  type = list(object({
    name   = string
    queue  = string
    count  = number
    memory = number
  }))
  default = [
    { name = "fast", queue = "priority", count = 3, memory = 256 },
    { name = "bulk", queue = "default", count = 1, memory = 1024 },
  ]
}

locals {
  ports = {
    http    = 8080
    metrics = 9100
    admin   = 8443
  }

  placement = [
    { attribute = "${attr.kernel.name}", value = "linux" },
    { attribute = "${node.class}", value = "general" },
  ]

  health_paths = ["/livez", "/readyz"]

  zones = {
    "zone-a" = 40
    "zone-b" = 40
    "zone-c" = 20
  }

  config_files = {
    "app.env"     = "MODE=server"
    "limits.conf" = "max_conn=512"
  }
}

job "task-runner" {
  datacenters = ["dc1"]

  # one constraint block per list element, default iterator name
  dynamic "constraint" {
    for_each = local.placement

    content {
      attribute = constraint.value.attribute
      value     = constraint.value.value
    }
  }

  group "api" {
    network {
      # map iteration with a custom iterator; the key becomes the label
      dynamic "port" {
        for_each = local.ports
        iterator = p
        labels   = [p.key]

        content {
          to = p.value
        }
      }
    }

    spread {
      attribute = "${meta.zone}"
      weight    = 80

      dynamic "target" {
        for_each = local.zones
        labels   = [target.key]

        content {
          percent = target.value
        }
      }
    }

    service {
      name     = "task-runner-api"
      port     = "http"
      provider = "nomad"

      dynamic "check" {
        for_each = local.health_paths
        iterator = hp

        content {
          name     = "http${replace(hp.value, "/", "-")}"
          type     = "http"
          path     = hp.value
          interval = "10s"
          timeout  = "2s"
        }
      }
    }

    task "api" {
      driver = "docker"

      config {
        image = "registry.example.com/task-runner:1.0.0"
        ports = keys(local.ports)
      }

      dynamic "template" {
        for_each = local.config_files

        content {
          destination = "local/${template.key}"
          data        = template.value
        }
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }

  # one group per worker definition; the label comes from the element
  dynamic "group" {
    for_each = var.workers
    iterator = w
    labels   = ["worker-${w.value.name}"]

    content {
      count = w.value.count

      task "worker" {
        driver = "docker"

        config {
          image = "registry.example.com/task-runner:1.0.0"
          args  = ["worker", "--queue", w.value.queue]
        }

        env {
          WORKER_INDEX = w.key
          QUEUE        = w.value.queue
        }

        resources {
          cpu    = 200
          memory = w.value.memory
        }
      }
    }
  }
}
