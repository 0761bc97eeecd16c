# An example service job, written by `nomad job init`.
#
# A job holds groups; every group's tasks are placed together on one client.
# Run it with `nomad job run example.nomad.hcl`, see it with
# `nomad job status example`, change it and preview with `nomad job plan`.
job "example" {
  # Any datacenter is fine; globs such as "dc*" also work.
  datacenters = ["*"]

  # service: keep it running. Other types: batch, system, sysbatch.
  type = "service"

  # How a new version replaces the old one.
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  # How allocations leave a node that is being drained.
  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  # Shown on the job's page in the web UI.
  ui {
    description = "An example Redis cache"

    link {
      label = "Job specification"
      url   = "https://developer.hashicorp.com/nomad/docs/job-specification"
    }
  }

  group "cache" {
    # How many copies of this group to run.
    count = 1

    network {
      # A dynamic host port, mapped to 6379 inside the container.
      port "db" {
        to = 6379
      }
    }

    # Registered with Nomad's own service catalogue.
    service {
      name     = "redis-cache"
      tags     = ["global", "cache"]
      port     = "db"
      provider = "nomad"
    }

    # Restarts on the same client before the allocation counts as failed.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    # Scratch space shared by the group's tasks, in MB.
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

      # Time between deregistering the service and stopping the task.
      shutdown_delay = "10s"

      # Give the task a workload identity, as an env var and a file.
      identity {
        env  = true
        file = true
      }

      # CPU in MHz, memory in MB.
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
