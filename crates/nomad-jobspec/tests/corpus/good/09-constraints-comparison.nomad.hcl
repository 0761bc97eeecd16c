# Comparison constraint operators at job, group and task level.
job "billing-api" {
  datacenters = ["dc1"]

  # operator omitted: defaults to "="
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${node.class}"
    operator  = "=="
    value     = "compute"
  }

  constraint {
    attribute = "${node.datacenter}"
    operator  = "="
    value     = "dc1"
  }

  group "api" {
    count = 2

    constraint {
      attribute = "${attr.cpu.arch}"
      operator  = "is"
      value     = "amd64"
    }

    constraint {
      attribute = "${meta.rack}"
      operator  = "!="
      value     = "r13"
    }

    constraint {
      attribute = "${node.pool}"
      operator  = "not"
      value     = "gpu"
    }

    constraint {
      attribute = "${attr.cpu.numcores}"
      operator  = ">="
      value     = "4"
    }

    constraint {
      attribute = "${attr.memory.totalbytes}"
      operator  = ">"
      value     = "8000000000"
    }

    task "api" {
      driver = "docker"

      constraint {
        attribute = "${attr.driver.docker.version}"
        operator  = "<"
        value     = "30"
      }

      constraint {
        attribute = "${meta.maintenance_window}"
        operator  = "<="
        value     = "3"
      }

      config {
        image = "registry.example.com/billing-api:4.2.0"
      }

      resources {
        cpu    = 400
        memory = 512
      }
    }
  }
}
