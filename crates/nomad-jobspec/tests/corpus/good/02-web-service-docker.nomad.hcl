# Public storefront: docker service with static + dynamic ports, a group
# service registered in Consul with two checks, and canary deployments.
job "storefront" {
  region      = "eu-west"
  datacenters = ["eu-west-1a", "eu-west-1b"]
  type        = "service"
  priority    = 70

  group "web" {
    count = 3

    network {
      mode = "host"

      # Fixed port on the host, same port inside the container.
      port "https" {
        static = 8443
      }

      # Dynamic host port mapped to 8080 in the container.
      port "http" {
        to = 8080
      }

      # Dynamic port, no mapping (container uses the same number).
      port "metrics" {}
    }

    service {
      name = "storefront-web"
      port = "http"
      tags = ["public", "v2"]

      check {
        name     = "alive"
        type     = "tcp"
        port     = "http"
        interval = "10s"
        timeout  = "2s"
      }

      check {
        name     = "ready"
        type     = "http"
        path     = "/healthz/ready"
        interval = "15s"
        timeout  = "3s"

        check_restart {
          limit           = 3
          grace           = "90s"
          ignore_warnings = false
        }
      }
    }

    update {
      max_parallel     = 1
      canary           = 1
      auto_promote     = true
      auto_revert      = true
      min_healthy_time = "30s"
      healthy_deadline = "5m"
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.25-alpine"
        ports = ["http", "https", "metrics"]

        # Nested blocks inside driver config are passed to the driver as-is.
        mount {
          type     = "bind"
          source   = "local/nginx.conf"
          target   = "/etc/nginx/conf.d/default.conf"
          readonly = true
        }

        logging {
          type = "json-file"

          config {
            max-size = "10m"
            max-file = "3"
          }
        }

        labels {
          team    = "web"
          service = "storefront"
        }
      }

      env {
        LISTEN_PORT  = "${NOMAD_PORT_http}"
        METRICS_ADDR = "${NOMAD_ADDR_metrics}"
        ALLOC        = "${NOMAD_ALLOC_ID}"
      }

      template {
        destination = "local/nginx.conf"
        data        = <<EOF
server {
  listen 8080;
  location / {
    root /usr/share/nginx/html;
  }
}
EOF
      }

      resources {
        cpu        = 300
        memory     = 128
        memory_max = 256
      }
    }
  }
}
