# Mistake: job priority above the maximum of 100.
job "urgent" {
  datacenters = ["dc1"]
  priority    = 150

  group "web" {

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
