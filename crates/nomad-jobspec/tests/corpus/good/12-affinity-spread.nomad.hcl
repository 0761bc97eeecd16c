# Soft placement preferences: affinities (positive and negative weights,
# at job, group, task and device level) and spread with targets.
job "recommendations" {
  datacenters = ["us-east-1", "us-east-2", "us-west-1"]

  affinity {
    attribute = "${node.datacenter}"
    value     = "us-east-1"
    weight    = 60
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "us-east-1" {
      percent = 50
    }

    target "us-east-2" {
      percent = 30
    }

    target "us-west-1" {
      percent = 20
    }
  }

  group "model-server" {
    count = 10

    affinity {
      attribute = "${meta.instance_family}"
      operator  = "set_contains_any"
      value     = "c6i,c7i"
      weight    = 40
    }

    affinity {
      attribute = "${node.class}"
      operator  = "!="
      value     = "spot"
      weight    = -30
    }

    # no targets: spread evenly over racks
    spread {
      attribute = "${meta.rack}"
      weight    = 50
    }

    task "serve" {
      driver = "docker"

      affinity {
        attribute = "${attr.cpu.modelname}"
        regexp    = "Xeon"
        weight    = 25
      }

      config {
        image = "registry.example.com/recs-serving:2024.11"
      }

      resources {
        cpu    = 1500
        memory = 3072

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "16 GiB"
          }

          affinity {
            attribute = "${device.model}"
            value     = "Tesla T4"
            weight    = 50
          }
        }
      }
    }
  }
}
