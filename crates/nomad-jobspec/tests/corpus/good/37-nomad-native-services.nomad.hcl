# Services registered in Nomad's own catalog (provider = "nomad") at group
# and task level, with the check types that provider supports.
job "notes" {
  datacenters = ["dc1"]

  group "notes" {
    count = 2

    network {
      port "http" {
        to = 5000
      }

      port "redis" {
        to = 6379
      }
    }

    service {
      name     = "notes-web"
      port     = "http"
      provider = "nomad"
      tags     = ["web", "urlprefix-/notes"]
      address  = "10.20.30.40"

      check {
        name      = "notes-http"
        type      = "http"
        path      = "/health"
        method    = "GET"
        interval  = "10s"
        timeout   = "2s"
        on_update = "ignore"
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = "registry.example.com/notes:1.1.0"
        ports = ["http"]
      }

      env {
        REDIS_ADDR = "${NOMAD_ADDR_redis}"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:7-alpine"
        ports = ["redis"]
      }

      service {
        name     = "notes-redis"
        port     = "redis"
        provider = "nomad"

        check {
          name     = "redis-tcp"
          type     = "tcp"
          interval = "15s"
          timeout  = "3s"

          check_restart {
            limit = 5
            grace = "30s"
          }
        }
      }

      resources {
        cpu    = 100
        memory = 256
      }
    }
  }
}
