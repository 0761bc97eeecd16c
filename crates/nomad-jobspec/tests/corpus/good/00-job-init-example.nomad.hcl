# The shape of the job that `nomad job init` writes, re-described in our own
# words: one service job running a single Redis container.

job "example" {
  # Run in every datacenter the cluster knows about.
  datacenters = ["*"]

  # Long-running service (also the default when omitted).
  type = "service"

  # Rolling-update policy shared by every group of the job.
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  # How allocations move off a node that is being drained.
  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  # Text and a link shown on the job page of the web UI.
  ui {
    description = "A starter *Redis* cache job"

    link {
      label = "Nomad documentation"
      url   = "https://developer.hashicorp.com/nomad/docs"
    }
  }

  group "cache" {
    count = 1

    # A dynamic host port, mapped to Redis' port inside the container.
    network {
      port "db" {
        to = 6379
      }
    }

    # Registered in Nomad's built-in service catalog.
    service {
      name     = "redis-cache"
      tags     = ["global", "cache"]
      port     = "db"
      provider = "nomad"
    }

    # Restart locally twice per 30 minutes, then give up (fail).
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    # Scratch space for the allocation, in MB.
    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "docker"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }

      # Leave the service catalog 10s before the task is stopped.
      shutdown_delay = "10s"

      # Expose the workload identity token as env var and file.
      identity {
        env  = true
        file = true
      }

      resources {
        cpu    = 500 # MHz
        memory = 256 # MB
      }
    }
  }
}
