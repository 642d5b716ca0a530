"""Deployment: the inference model of every family as one ``nn.Module`` of one tensor, exported to ONNX and checked
with ONNX Runtime against PyTorch eager (``tools/deploy/export_onnx.py``, ``tools/deploy/benchmark_onnx.py``;
``docs/deploy.md``).

- :mod:`snl_plugins.deploy.models`: building a model (a timm name or an OpenMMLab config and checkpoint) and its
  inference wrapper (:func:`~snl_plugins.deploy.models.inference_model`): timm classifiers, ``TimmClassifier``,
  mmaction2 3D recognizers (I3D, P3D, ...; one clip) and 2D recognizers (VTN; one clip of T frames), mmseg segmentors
  (whole image, logits at the input size), the re-ID ``RTM`` feature extractor; and the block path
  (:func:`~snl_plugins.deploy.models.set_block_path`).
- :mod:`snl_plugins.deploy.onnx_export`: export with torch's exporter, ``onnx.checker``, ONNX Runtime at the export
  input and at a second input of another batch / size, the largest difference to eager against a tolerance.
- :mod:`snl_plugins.deploy.benchmark`: ONNX Runtime CPU latency against PyTorch eager, side by side.
- :mod:`snl_plugins.deploy.cli`: the command lines of ``tools/deploy/``.

Host libraries (timm, mmengine, mmaction2, mmseg) and ``onnx`` / ``onnxruntime`` (the ``deploy`` extra) are imported
only where a function needs them, so ``import snl_plugins.deploy`` costs nothing beyond the core.
"""
