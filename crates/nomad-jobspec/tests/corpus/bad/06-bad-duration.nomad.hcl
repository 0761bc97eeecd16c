# Mistake: a duration written in prose instead of Go duration syntax.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    restart {
      attempts = 3
      interval = "5 minutes"
      delay    = "15s"
      mode     = "delay"
    }

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
