# Every update attribute, at job level and overridden per group.
job "checkout" {
  datacenters = ["dc1"]

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "4m"
    progress_deadline = "12m"
    auto_revert       = true
    auto_promote      = false
    canary            = 0
    stagger           = "45s"
  }

  group "frontend" {
    count = 4

    # Blue/green: as many canaries as running allocations, promoted by hand.
    update {
      canary       = 4
      max_parallel = 4
      health_check = "task_states"
    }

    network {
      port "http" {
        to = 3000
      }
    }

    task "node" {
      driver = "docker"

      config {
        image = "registry.example.com/checkout-frontend:7.3.2"
        ports = ["http"]
      }

      resources {
        cpu    = 250
        memory = 256
      }
    }
  }

  group "worker" {
    count = 2

    # Deployment health is judged by an operator (nomad deployment
    # promote / fail); no deadline for progress.
    update {
      health_check      = "manual"
      progress_deadline = "0"
      healthy_deadline  = "30m"
    }

    task "worker" {
      driver = "docker"

      config {
        image = "registry.example.com/checkout-worker:7.3.2"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
