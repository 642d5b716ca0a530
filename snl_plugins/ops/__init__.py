"""The maths of spectral non-local blocks as functions of tensors: pure torch, no modules, no registries."""
from .affinity import (DENSE_LIMIT_ENV, FACTORISED_CROSSOVER, KERNELS, NORMALIZATIONS, PATHS, SOFTMAX_KERNELS,
                       Affinity, DenseAffinityTooLarge, accumulation_dtype, check_choice, check_dense_size,
                       choose_path, dot_affinity, low_precision, lowrank_affinity, normalize_dense, safe_pow,
                       softmax_affinity)
from .chebyshev import chebyshev_matrix, chebyshev_terms
from .pointwise import combine, project

__all__ = [
    'Affinity', 'DENSE_LIMIT_ENV', 'DenseAffinityTooLarge', 'FACTORISED_CROSSOVER', 'KERNELS', 'NORMALIZATIONS',
    'PATHS', 'SOFTMAX_KERNELS', 'accumulation_dtype', 'chebyshev_matrix', 'chebyshev_terms', 'check_choice',
    'check_dense_size', 'choose_path', 'combine', 'dot_affinity', 'low_precision', 'lowrank_affinity',
    'normalize_dense', 'project', 'safe_pow', 'softmax_affinity'
]
