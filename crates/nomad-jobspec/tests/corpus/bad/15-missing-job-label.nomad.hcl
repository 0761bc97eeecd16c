# Mistake: the job block has no name label.
job {
  datacenters = ["dc1"]

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
