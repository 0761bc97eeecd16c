# Edge sites with flaky links: how long a disconnected client keeps its
# allocations, what happens on reconnect, and an autoscaler policy.
job "pos-sync" {
  datacenters = ["store-*"]

  group "sync" {
    count = 2

    disconnect {
      lost_after = "6h"
      replace    = false
      reconcile  = "keep_original"
    }

    scaling {
      enabled = true
      min     = 1
      max     = 10

      policy {
        evaluation_interval = "30s"
        cooldown            = "5m"

        check "queue-depth" {
          source = "prometheus"
          query  = "sum(pos_sync_queue_depth)"

          strategy "target-value" {
            target = 200
          }
        }
      }
    }

    task "sync" {
      driver = "docker"

      config {
        image = "registry.example.com/pos-sync:2.2.0"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }

  group "receipts" {
    count = 1

    # stop the work on the client itself when it loses the servers
    disconnect {
      stop_on_client_after = "10m"
      replace              = true
      reconcile            = "best_score"
    }

    task "receipts" {
      driver = "docker"

      config {
        image = "registry.example.com/pos-receipts:2.2.0"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }

  group "mirror" {
    count = 1

    disconnect {
      lost_after = "1h30m"
      reconcile  = "longest_running"
    }

    task "mirror" {
      driver = "docker"

      config {
        image = "registry.example.com/pos-mirror:2.2.0"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
