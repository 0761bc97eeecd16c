# Mistake: a misspelled function name; a close match exists.
locals {
  zones = ["a", "b", "c"]
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    count = lenght(local.zones)

    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/app:1.0.0"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
