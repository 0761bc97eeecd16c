# Mistake: a reference to a local value that does not exist.
locals {
  memory = 512
  cpu    = 250
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      resources {
        cpu    = local.cpu
        memory = local.memory_mb
      }
    }
  }
}
