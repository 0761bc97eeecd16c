# Database cluster with one CSI volume per allocation (per_alloc), a shared
# read-only CSI volume, and a host volume for a unix socket directory.
job "postgres-cluster" {
  datacenters = ["dc1"]

  group "db" {
    count = 3

    volume "data" {
      type            = "csi"
      source          = "pg-data"
      per_alloc       = true
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"

      mount_options {
        fs_type = "xfs"
      }
    }

    volume "seed" {
      type            = "csi"
      source          = "pg-seed-snapshots"
      read_only       = true
      access_mode     = "multi-node-reader-only"
      attachment_mode = "file-system"
    }

    volume "run" {
      type        = "host"
      source      = "pg-sockets"
      access_mode = "single-node-writer"
    }

    volume "wal-archive" {
      type   = "host"
      source = "wal-archive"
      sticky = true
    }

    task "postgres" {
      driver = "docker"

      config {
        image = "postgres:16"
      }

      volume_mount {
        volume      = "data"
        destination = "/var/lib/postgresql/data"
        read_only   = false
      }

      volume_mount {
        volume      = "seed"
        destination = "/seed"
        read_only   = true
      }

      volume_mount {
        volume           = "run"
        destination      = "/var/run/postgresql"
        propagation_mode = "private"
        selinux_label    = "Z"
      }

      volume_mount {
        volume           = "wal-archive"
        destination      = "/wal-archive"
        propagation_mode = "host-to-task"
      }

      resources {
        cpu    = 2000
        memory = 4096
      }
    }
  }
}
