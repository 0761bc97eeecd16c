# Mistake: the "=" between an argument name and its value is missing.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    count 3

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
