# Consul-registered services exercising most service and check options:
# http/tcp/grpc/script checks, headers, canary tags and meta, tagged
# addresses, check_restart at service and check level, task services.
job "payments" {
  datacenters = ["dc1"]

  group "gateway" {
    count = 2

    network {
      port "http" {
        to = 8080
      }

      port "grpc" {
        to = 9090
      }
    }

    service {
      name                = "payments-http"
      port                = "http"
      provider            = "consul"
      tags                = ["payments", "http", "v3"]
      canary_tags         = ["canary"]
      enable_tag_override = false
      address_mode        = "host"
      on_update           = "require_healthy"
      task                = "gateway"

      meta {
        owner   = "payments-team"
        version = "3.1.0"
      }

      canary_meta {
        owner   = "payments-team"
        version = "3.2.0-rc1"
      }

      tagged_addresses {
        lan = "${NOMAD_HOST_IP_http}"
      }

      check_restart {
        limit = 3
        grace = "1m"
      }

      check {
        name                     = "http-ready"
        type                     = "http"
        path                     = "/ready?deep=1"
        method                   = "POST"
        body                     = "{\"probe\":true}"
        protocol                 = "https"
        tls_skip_verify          = true
        tls_server_name          = "payments.internal"
        interval                 = "10s"
        timeout                  = "2s"
        initial_status           = "warning"
        success_before_passing   = 2
        failures_before_critical = 3
        failures_before_warning  = 1
        on_update                = "require_healthy"

        header {
          Authorization    = ["Bearer probe-token"]
          X-Request-Source = ["nomad", "health"]
        }
      }

      check {
        name     = "tcp-open"
        type     = "tcp"
        interval = "5s"
        timeout  = "1s"
      }

      check {
        name     = "script-self-test"
        type     = "script"
        command  = "/usr/local/bin/self-test"
        args     = ["--quick"]
        task     = "gateway"
        interval = "1m"
        timeout  = "20s"

        check_restart {
          limit           = 2
          grace           = "2m"
          ignore_warnings = true
        }
      }
    }

    service {
      name     = "payments-grpc"
      port     = "grpc"
      provider = "consul"

      check {
        name         = "grpc-health"
        type         = "grpc"
        grpc_service = "payments.v3.Health"
        grpc_use_tls = false
        interval     = "10s"
        timeout      = "3s"
      }
    }

    task "gateway" {
      driver = "docker"

      config {
        image = "registry.example.com/payments-gateway:3.1.0"
        ports = ["http", "grpc"]
      }

      # task-level service: address of the container itself
      service {
        name         = "payments-gateway-metrics"
        port         = "9102"
        address_mode = "driver"
        tags         = ["metrics"]
        provider     = "consul"

        check {
          name         = "metrics"
          type         = "http"
          path         = "/metrics"
          port         = "9102"
          address_mode = "driver"
          interval     = "30s"
          timeout      = "5s"
        }
      }

      resources {
        cpu    = 600
        memory = 512
      }
    }
  }
}
