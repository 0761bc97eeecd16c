# `env` and `meta` written as map attributes instead of blocks. This form
# allows keys that are not HCL identifiers (dots, slashes, leading digits).
# Driver config values can also be object literals.
job "jvm-service" {
  datacenters = ["dc1"]

  meta = {
    "app.kubernetes.io/name" = "jvm-service"
    "team"                   = "core"
  }

  group "app" {
    meta = {
      "deploy.strategy" = "rolling"
    }

    task "java" {
      driver = "docker"

      config {
        image = "eclipse-temurin:21-jre"
        args  = ["java", "-jar", "/local/app.jar"]

        # object-valued attribute inside driver config
        labels = {
          "com.example.owner" = "core"
          "com.example.tier"  = "backend"
        }

        ulimit {
          nofile = "65536:65536"
        }
      }

      env = {
        "JAVA_TOOL_OPTIONS"        = "-XX:MaxRAMPercentage=75"
        "spring.profiles.active"   = "prod"
        "logging.level.root"       = "INFO"
        "1ST_RUN"                  = "false"
        "OTEL_RESOURCE_ATTRIBUTES" = "service.instance.id=${NOMAD_ALLOC_ID}"
      }

      meta = {
        "prometheus.io/scrape" = "true"
        "prometheus.io/port"   = "9404"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
