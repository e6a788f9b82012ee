"""Atomic loads and adds on int64 numpy arrays inside numba-cpu code, for threads that share work
without the GIL (:mod:`solver.threads`, :func:`solver.kernels.network.advance_network_range`).

numba exposes no atomics on the CPU; these are LLVM's ``atomicrmw add`` and ``load atomic``
emitted through ``numba.extending.intrinsic``. ``arr`` must be a contiguous int64 array.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _item_pointer(context, builder, aryty, ary_value, index):
    ary = context.make_array(aryty)(context, builder, ary_value)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [index])


@intrinsic
def fetch_add(typingctx, arr, i, v):
    """``arr[i] += v`` atomically; returns the value before the add (int64)."""
    sig = types.int64(arr, i, v)

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature.args[0], args[0], args[1])
        value = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, value, "monotonic")

    return sig, codegen


@intrinsic
def load_acquire(typingctx, arr, i):
    """``arr[i]`` read with an atomic acquire load: a loop that polls it reads memory every time
    (a plain load would be hoisted out of the loop)."""
    sig = types.int64(arr, i)

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_item_pointer(context, builder, signature.args[0], args[0], args[1]),
                                   "acquire", 8)

    return sig, codegen
