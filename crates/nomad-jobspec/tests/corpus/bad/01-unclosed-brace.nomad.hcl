# Mistake: the closing brace of the job block is missing at the end.
job "broken-braces" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }
    }
  }
