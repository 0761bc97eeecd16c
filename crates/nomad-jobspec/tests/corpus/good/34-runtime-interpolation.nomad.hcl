# Runtime interpolations (${NOMAD_*}, ${attr.*}, ${node.*}, ${meta.*},
# ${env.*}) are not known when the job is parsed; they stay in the job as
# literal text for the client to fill in, even when mixed in one string
# with parse-time ${var.*} / ${local.*} references.

variable "prefix" {
  type    = string
  default = "metrics"
}

locals {
  cluster = "eu1"
  # a local holding a runtime reference keeps it as text
  instance = "${var.prefix}-${NOMAD_ALLOC_INDEX}"
}

job "metrics-gateway" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${meta.rack}"
    operator  = "is_set"
  }

  group "gateway" {
    count = 2

    network {
      port "http" {}
      port "grpc" {}
    }

    service {
      name     = "${var.prefix}-gateway"
      port     = "http"
      provider = "nomad"
      tags     = ["alloc-${NOMAD_ALLOC_INDEX}", "${local.cluster}"]
    }

    task "gateway" {
      driver = "docker"

      config {
        image    = "registry.example.com/${var.prefix}-gateway:1.0.0"
        hostname = "${var.prefix}-${node.unique.name}-${NOMAD_ALLOC_INDEX}"
        ports    = ["http", "grpc"]
        args = [
          "--listen=0.0.0.0:${NOMAD_PORT_http}",
          "--grpc-listen=${NOMAD_ADDR_grpc}",
          "--instance=${local.instance}",
          "--cluster=${local.cluster}",
        ]
      }

      env {
        ALLOC_ID       = "${NOMAD_ALLOC_ID}"
        SHORT_ALLOC_ID = "${NOMAD_SHORT_ALLOC_ID}"
        JOB_AND_GROUP  = "${NOMAD_JOB_NAME}/${NOMAD_GROUP_NAME}"
        INSTANCE_NAME  = "${var.prefix}-${NOMAD_ALLOC_INDEX}"
        NODE_NAME      = "${node.unique.name}"
        NODE_ID        = "${node.unique.id}"
        NODE_DC        = "${node.datacenter}"
        NODE_REGION    = "${node.region}"
        NODE_CLASS     = "${node.class}"
        KERNEL         = "${attr.kernel.name}"
        CPU_ARCH       = "${attr.cpu.arch}"
        RACK           = "${meta.rack}"
        RACK_LABEL     = "${local.cluster}/${meta.rack}/${node.unique.name}"
        AGENT_HOME     = "${env.HOME}"
        DATA_DIR       = "${NOMAD_ALLOC_DIR}/data"
        SECRETS        = "${NOMAD_SECRETS_DIR}"
        MEM_LIMIT      = "${NOMAD_MEMORY_LIMIT}"
        UPSTREAM       = "http://${NOMAD_IP_http}:${NOMAD_HOST_PORT_http}"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
