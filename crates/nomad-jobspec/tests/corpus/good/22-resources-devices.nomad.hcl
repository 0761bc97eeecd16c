# Resource requests: MHz shares vs reserved cores, memory oversubscription,
# and device requests by type, vendor/type and vendor/type/model.
job "inference" {
  datacenters = ["gpu-*"]
  node_pool   = "gpu"

  group "llm" {
    task "server" {
      driver = "docker"

      config {
        image = "registry.example.com/llm-server:0.9.2"
      }

      resources {
        cores      = 8
        memory     = 32768
        memory_max = 49152

        device "nvidia/gpu/NVIDIA A100-SXM4-80GB" {
          count = 2
        }
      }
    }

    task "tokenizer" {
      driver = "docker"

      config {
        image = "registry.example.com/tokenizer:0.9.2"
      }

      resources {
        cpu        = 1200
        memory     = 1024
        memory_max = 2048

        # any vendor's GPU
        device "gpu" {
          count = 1

          constraint {
            attribute = "${device.attr.cuda_cores}"
            operator  = ">="
            value     = "2048"
          }
        }
      }
    }

    task "fpga-offload" {
      driver = "exec"

      config {
        command = "/opt/fpga/bin/offload"
      }

      resources {
        cpu    = 100
        memory = 128

        device "xilinx/fpga" {
          count = 1

          affinity {
            attribute = "${device.model}"
            operator  = "regexp"
            value     = "^U2[0-9]{2}$"
            weight    = -50
          }
        }
      }
    }
  }
}
