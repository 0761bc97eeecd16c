# Disk cleanup on every client, several times a week: sysbatch + a
# periodic block with a list of cron expressions.
job "tmp-reaper" {
  type        = "sysbatch"
  datacenters = ["*"]

  periodic {
    crons = [
      "0 4 * * 1-5",
      "30 6 * * 6,0",
    ]
    prohibit_overlap = true
    time_zone        = "America/New_York"
  }

  group "reaper" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "find-delete" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/find"
        args    = ["/tmp", "-type", "f", "-mtime", "+7", "-delete"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
