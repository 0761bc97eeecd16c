# Mistake: a string where a number is required.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    count = "three"

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
