"""Analysis of non-local blocks and of runs: the logic behind ``tools/analysis/*.py``.

- :mod:`.stability`: the stable hypothesis (Fig. 2 and 6): histograms of A, A^2, A^3, A^4 and the idempotency gap.
- :mod:`.spectrum`: eigenvalues of W~ = (W_g W + (W_g W)^T) / 2 (Fig. 5).
- :mod:`.maps`: block output responses and affinity rows over the inputs (Fig. 4).
- :mod:`.complexity`: parameters and FLOPs (mmengine's counter, with analytic counts where it is blind).
- :mod:`.tables`: result tables from work dirs in the paper's layout, beside the paper's numbers
  (``paper_results.json``).

Every tool takes any model our configs build (classification, segmentation, video, re-ID); :mod:`.common` knows each
family's input layout (``LAYOUTS``) and how to run it whole. Modules import matplotlib lazily (only the plotting
functions need it).
"""
