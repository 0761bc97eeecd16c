# Nightly-style ETL run as a one-off batch job with the exec driver:
# download a release tarball, render credentials into env vars, run.
job "orders-etl" {
  type        = "batch"
  datacenters = ["dc1"]
  node_pool   = "batch-workers"
  priority    = 40

  group "extract-transform-load" {
    count = 1

    reschedule {
      attempts       = 2
      interval       = "6h"
      delay          = "1m"
      delay_function = "constant"
      unlimited      = false
    }

    restart {
      attempts = 3
      interval = "30m"
      delay    = "20s"
      mode     = "delay"
    }

    ephemeral_disk {
      size = 4096
    }

    task "etl" {
      driver = "exec"
      user   = "etl"

      artifact {
        source      = "https://releases.example.com/etl/orders-etl-2.4.1-linux-amd64.tar.gz"
        destination = "local/bin"

        options {
          checksum = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
        }
      }

      config {
        command = "local/bin/orders-etl"
        args    = ["--since", "24h", "--batch-size", "5000", "--workers", "${NOMAD_CPU_CORES}"]
      }

      template {
        destination = "secrets/db.env"
        env         = true
        change_mode = "restart"
        data        = <<EOT
DB_HOST={{ with nomadService "orders-db" }}{{ with index . 0 }}{{ .Address }}{{ end }}{{ end }}
DB_USER=etl_reader
EOT
      }

      resources {
        cores  = 2
        memory = 2048
      }

      logs {
        max_files     = 4
        max_file_size = 25
      }

      kill_timeout = "45s"
    }
  }
}
