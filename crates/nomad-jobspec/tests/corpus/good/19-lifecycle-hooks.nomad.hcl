# Task lifecycle: an init task that waits for the database, a log-forwarding
# sidecar, a poststart cache primer, a poststop deregistration hook, and a
# leader task whose exit stops its siblings.
job "inventory" {
  datacenters = ["dc1"]

  group "app" {
    count          = 2
    shutdown_delay = "15s"

    network {
      port "http" {}
    }

    task "wait-for-db" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "busybox:1.36"
        command = "sh"
        args    = ["-c", "until nc -z inventory-db.service.consul 5432; do sleep 2; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "log-forwarder" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        image = "fluent/fluent-bit:3.0"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "server" {
      driver = "docker"
      leader = true

      config {
        image = "registry.example.com/inventory:5.0.1"
        ports = ["http"]
      }

      kill_timeout   = "30s"
      kill_signal    = "SIGTERM"
      shutdown_delay = "5s"

      action "reindex" {
        command = "/app/bin/inventory"
        args    = ["admin", "reindex"]
      }

      resources {
        cpu    = 800
        memory = 768
      }
    }

    task "prime-cache" {
      driver = "exec"

      lifecycle {
        hook = "poststart"
      }

      config {
        command = "/usr/bin/curl"
        args    = ["-fsS", "-X", "POST", "http://${NOMAD_ADDR_http}/internal/prime"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "metrics-agent" {
      driver = "exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = "/usr/local/bin/statsd-exporter"
      }
    }

    task "deregister" {
      driver = "raw_exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/usr/local/bin/lb-deregister"
        args    = ["--alloc", "${NOMAD_ALLOC_ID}"]
      }

      kill_signal = "SIGINT"
    }
  }
}
