# Nightly Postgres dump written to a CSI-backed volume. Overlapping runs
# are refused, and the schedule is evaluated in Berlin time.
job "pg-backup" {
  type        = "batch"
  datacenters = ["dc1", "dc2"]

  periodic {
    cron             = "15 2 * * *"
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
    enabled          = true
  }

  group "dump" {
    volume "backups" {
      type            = "csi"
      source          = "pg-backups"
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"
      read_only       = false

      mount_options {
        fs_type     = "ext4"
        mount_flags = ["noatime", "nodiratime"]
      }
    }

    reschedule {
      attempts       = 1
      interval       = "2h"
      delay          = "10m"
      delay_function = "constant"
    }

    task "pg-dump" {
      driver = "docker"

      config {
        image   = "postgres:16-alpine"
        command = "/bin/sh"
        args    = ["-c", "pg_dump --format=custom --file=/backups/orders-$(date +%F).dump orders"]
      }

      volume_mount {
        volume      = "backups"
        destination = "/backups"
      }

      template {
        destination = "secrets/pg.env"
        env         = true
        data        = <<-EOT
          PGHOST=orders-db.service.consul
          PGUSER=backup
          PGPASSWORD={{ with nomadVar "nomad/jobs/pg-backup" }}{{ .password }}{{ end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 512
      }

      kill_timeout = "2m"
    }
  }
}
