# A shop's web tier: the kind of job file a team keeps in its repository.
variable "image" {
  type        = string
  description = "Container image of the web application"
}

variable "replicas" {
  type    = number
  default = 4
}

variable "datacenters" {
  type    = list(string)
  default = ["eu-west-1a", "eu-west-1b"]
}

locals {
  env_name = "production"
  labels = {
    team    = "storefront"
    env     = local.env_name
    service = "web"
  }
  upstreams = ["cart", "catalog", "checkout"]
}

job "shop-web" {
  region      = "eu"
  datacenters = var.datacenters
  type        = "service"
  priority    = 70
  node_pool   = "web"

  meta = local.labels

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.cpu.arch}"
    operator  = "set_contains_any"
    value     = "amd64,arm64"
  }

  update {
    max_parallel      = 2
    canary            = 1
    min_healthy_time  = "15s"
    healthy_deadline  = "4m"
    progress_deadline = "12m"
    auto_revert       = true
    auto_promote      = false
  }

  migrate {
    max_parallel     = 2
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  group "web" {
    count = var.replicas

    spread {
      attribute = "${node.datacenter}"
      weight    = 100

      target "eu-west-1a" {
        percent = 50
      }

      target "eu-west-1b" {
        percent = 50
      }
    }

    affinity {
      attribute = "${meta.instance_family}"
      value     = "c6"
      weight    = 60
    }

    network {
      port "http" {
        to = 8080
      }

      port "metrics" {}
    }

    service {
      name     = "shop-web"
      port     = "http"
      provider = "nomad"
      tags     = [for k, v in local.labels : "${k}=${v}"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      interval = "10m"
      delay    = "20s"
      mode     = "delay"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    ephemeral_disk {
      size    = 500
      migrate = true
      sticky  = true
    }

    task "migrate-db" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = var.image
        command = "/app/bin/migrate"
        args    = ["--env", local.env_name]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http", "metrics"]
        args  = ["--listen", "0.0.0.0:8080", "--alloc", "${NOMAD_ALLOC_ID}"]
      }

      env {
        APP_ENV       = upper(local.env_name)
        UPSTREAMS     = join(",", local.upstreams)
        INSTANCE_NAME = "${local.labels.service}-${NOMAD_ALLOC_INDEX}"
        DATACENTER    = "${node.datacenter}"
      }

      template {
        destination = "local/app.conf"
        change_mode = "signal"
        change_signal = "SIGHUP"
        data        = <<-EOT
          listen = "0.0.0.0:{{ env "NOMAD_PORT_http" }}"
          env    = "${local.env_name}"
          alloc  = "{{ env "NOMAD_ALLOC_ID" }}"
        EOT
      }

      dynamic "template" {
        for_each = local.upstreams
        content {
          destination = "local/upstreams/${template.value}.env"
          env         = true
          data        = "UPSTREAM_${upper(template.value)}=http://${template.value}.service:8080"
        }
      }

      logs {
        max_files     = 5
        max_file_size = 20
      }

      kill_timeout   = "20s"
      kill_signal    = "SIGTERM"
      shutdown_delay = "5s"

      resources {
        cpu        = 1000
        memory     = 512
        memory_max = 1024
      }
    }

    task "log-shipper" {
      driver = "docker"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        image = "registry.local/infra/vector:0.39"
        args  = ["--config", "/local/vector.toml"]
      }

      template {
        destination = "local/vector.toml"
        data        = "[sources.app]\ntype = \"file\"\ninclude = [\"/alloc/logs/web.*\"]\n"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
