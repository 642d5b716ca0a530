"""The demos (``make demo``, ``tools/demo.py``): a plain network and the same network with non-local blocks, trained
and tested through ``tools/train.py`` / ``tools/test.py`` on data made offline from scikit-learn's digits.

- :mod:`.harness`: finding the project's tools and configs, running them per model and seed, the report (mean and
  std over seeds, paired differences to the plain model, whether they exceed the seed spread), the learning curves;
- :mod:`.scenes` (the default task): segmentation of digit scenes where a blank box takes the class of the digit seen
  twice, DeepLabV3-R18 plain / + NL / + SNL / + gSNL, with the affinity of a query on the box drawn over the image;
- :mod:`.digits`: classification of the digits, PreResNet-20 plain / + SNL;
- :mod:`.video`: "moving digits" action recognition (UCF-101 layout), I3D plain / + SNL;
- :mod:`.data`: the digits and their fixed held-out split, which every task starts from.

Nothing is imported here: ``import snl_plugins.demos`` costs nothing until a task runs.
"""
