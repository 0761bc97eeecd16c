# One log shipper per Linux client in the us-* datacenters, reading the
# host's /var/log through a read-only host volume.
job "log-shipper" {
  type        = "system"
  datacenters = ["us-east-*", "us-west-?"]
  node_pool   = "all"
  priority    = 85

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel = 4
    stagger      = "20s"
  }

  group "shipper" {
    volume "host-logs" {
      type      = "host"
      source    = "varlog"
      read_only = true
    }

    network {
      port "api" {
        static       = 8686
        host_network = "private"
      }
    }

    service {
      name     = "log-shipper"
      port     = "api"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/health"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "vector" {
      driver = "docker"

      config {
        image = "timberio/vector:0.34.1-debian"
        ports = ["api"]
        args  = ["--config", "/local/vector.toml"]
      }

      volume_mount {
        volume      = "host-logs"
        destination = "/host/var/log"
        read_only   = true
      }

      template {
        destination = "local/vector.toml"
        change_mode = "signal"

        change_signal = "SIGHUP"
        data          = <<EOH
[sources.host]
type = "file"
include = ["/host/var/log/*.log"]

[sinks.out]
type = "console"
inputs = ["host"]
encoding.codec = "json"
EOH
      }

      env {
        VECTOR_HOSTNAME = "${node.unique.name}"
        VECTOR_DC       = "${node.datacenter}"
      }

      resources {
        cpu    = 200
        memory = 256
      }

      logs {
        max_files     = 3
        max_file_size = 5
        disabled      = false
      }
    }
  }
}
