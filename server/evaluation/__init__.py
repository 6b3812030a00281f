"""Evaluation: motion faithfulness (ObjMC, shared by the preview tests and ``trackgo-eval``), FID/FVD, tables."""
