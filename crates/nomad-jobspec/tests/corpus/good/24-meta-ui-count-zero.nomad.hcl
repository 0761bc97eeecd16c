# Job identity and bookkeeping: explicit name/region/namespace/priority,
# all_at_once placement, meta at every level, UI links, and a group that
# is declared but scaled to zero.
job "reporting" {
  name        = "reporting-suite"
  region      = "global"
  namespace   = "analytics"
  datacenters = ["dc1"]
  priority    = 30
  all_at_once = true

  meta {
    owner       = "data-platform"
    cost_center = "cc-4711"
    runbook     = "https://wiki.example.com/runbooks/reporting"
  }

  ui {
    description = "Scheduled **reports** and the dashboard that shows them."

    link {
      label = "Dashboard"
      url   = "https://reports.example.com"
    }

    link {
      label = "Runbook"
      url   = "https://wiki.example.com/runbooks/reporting"
    }
  }

  group "dashboard" {
    count = 1

    meta {
      tier = "frontend"
    }

    task "dashboard" {
      driver = "docker"

      config {
        image = "registry.example.com/report-dashboard:1.4.0"
      }

      meta {
        log_format = "json"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }

  # kept in the spec, started later with `nomad job scale`
  group "renderer" {
    count = 0

    task "renderer" {
      driver = "docker"

      config {
        image = "registry.example.com/report-renderer:1.4.0"
      }

      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
