# Entry points that work on a fresh machine: `make demo`, `make test` and `make web`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. On a GPU machine: make TORCH_SPEC="torch>=2.13,<2.15" ...
TORCH_SPEC ?= torch==2.13.0
WEIGHTS ?= weights/internet-512.safetensors
DEMO_OUT ?= demo-out

.PHONY: venv demo test web clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,train,web]"
	touch $@

venv: $(VENV)/.installed

# --crop none: the examples are whole synthetic frames, framed as the training clips are, so
# the person crop would only move the frame under the dancer (weights/README.md, "make demo").
demo: venv
	@mkdir -p $(DEMO_OUT)
	@if [ -f "$(WEIGHTS)" ]; then w="$(WEIGHTS)"; else \
	  echo "No trained weights in weights/: using UNTRAINED random weights (the result will not look like the person)."; \
	  w="$(DEMO_OUT)/untrained.safetensors"; \
	  $(VENV)/bin/internet init paper-512 -o "$$w" --overwrite; fi; \
	$(VENV)/bin/internet animate examples/source.png examples/driving.mp4 -o $(DEMO_OUT)/demo.mp4 \
	  --weights "$$w" --overwrite --side-by-side --crop none && \
	echo "Demo video: $(abspath $(DEMO_OUT))/demo.mp4 (source | driving | output)"

test: venv
	$(PY) -m pytest -q

# The local page (docs/web.md) on http://127.0.0.1:7860/, the bundled examples one click away.
web: venv
	$(VENV)/bin/internet web --weights "$(WEIGHTS)"

clean:
	rm -rf $(VENV) $(DEMO_OUT)
