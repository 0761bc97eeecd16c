# Smallest useful job: one group, one task, every other setting defaulted
# (type service, count 1, datacenters ["*"], default resources).
job "uptime-probe" {
  group "probe" {
    task "date" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do date; sleep 60; done"]
      }
    }
  }
}
