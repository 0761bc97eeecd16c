# Mistake: two tasks with the same name in one group.
job "queue" {
  datacenters = ["dc1"]

  group "workers" {
    task "worker" {
      driver = "exec"

      config {
        command = "/usr/local/bin/worker"
        args    = ["--queue", "high"]
      }
    }

    task "worker" {
      driver = "exec"

      config {
        command = "/usr/local/bin/worker"
        args    = ["--queue", "low"]
      }
    }
  }
}
