# internet on an NVIDIA GPU: PyTorch (CUDA) + onnxruntime-gpu (CUDA provider) + TensorRT (optional).
# NOT BUILT YET: docker cannot run where this project is developed. See README "Docker".
#
#   docker build -t internet .                                  # add --build-arg TENSORRT=1 for TensorRT
#   docker run --gpus all -v "$PWD":/work -v internet-cache:/cache internet \
#       animate /work/source.jpg /work/driving.mp4 -o /work/out.mp4
#       (the bundled weights/internet-512.safetensors; -w /work/yours.safetensors for your own)
#
# onnxruntime-gpu 1.31.1's CUDA provider links libcudart.so.13 (CUDA 13) and cuDNN 9, read from its
# installed library; this CUDA 12.6 base image may need its CUDA 13 libraries (untested, docs/export.md).
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

ARG TENSORRT=0
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    INTERNET_CACHE_DIR=/cache \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# torch with CUDA first (PyPI's default wheel would be chosen otherwise), then the package.
RUN pip install "torch>=2.13,<2.15" --index-url https://download.pytorch.org/whl/cu126

WORKDIR /opt/internet
COPY pyproject.toml README.md ./
COPY internet_cli ./internet_cli
# The bundled default weights are found beside the package (internet_cli/checkpoint.py), hence -e.
COPY weights ./weights
RUN if [ "$TENSORRT" = "1" ]; then pip install -e ".[tensorrt]"; else pip install -e .; fi

# Exported ONNX graphs (and TensorRT engines) are cached here: mount a volume to keep them.
VOLUME /cache
WORKDIR /work
ENTRYPOINT ["internet"]
CMD ["--help"]
