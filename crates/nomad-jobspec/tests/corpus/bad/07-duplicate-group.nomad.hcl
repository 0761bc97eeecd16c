# Mistake: two groups with the same name (copy and paste).
job "shop" {
  datacenters = ["dc1"]

  group "api" {
    count = 2

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

  group "api" {
    count = 1

    task "migrations" {
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
