"""The algebraic system: field unknowns plus global multipliers, for PETSc SNES.

Without multipliers the system is DOLFINx's own matrix and vectors.  With
``m`` multipliers (cavity pressures under volume control) the unknowns are
``[w, lambda]``: the field unknowns keep DOLFINx's global numbering and the
``m`` multipliers are appended after the last one, owned by the last rank,
so the augmented matrix

    [ K    c_1 .. c_m ]
    [ r_1^T           ]
    [ ...         D   ]

has the rows of ``K`` where DOLFINx put them (``D`` is zero but for
multipliers whose targets depend on them, e.g. a cavity coupled to a 0D
circulation).  ``K`` is assembled by DOLFINx
and copied in (its CSR rows are the augmented rows), the border columns and
rows are dense vectors, and MUMPS factors the whole saddle point with
pivoting; it is one Newton iteration for all unknowns, so a volume-driven
inflation goes through a pressure maximum, where ``K`` alone is singular.
"""

from __future__ import annotations

import numpy as np

from .._dolfinx import PETSc, dolfinx

__all__: list[str] = []


class System:
    """Vectors and matrix of one problem (collective construction).

    Args:
        W: the function space of the field unknowns.
        jacobian: the compiled Jacobian form.
        num_multipliers: ``m``.
    """

    def __init__(self, W, jacobian, num_multipliers: int):
        comm = W.mesh.comm
        self.comm = comm
        imap = W.dofmap.index_map
        self.bs = W.dofmap.index_map_bs
        self.n_owned = imap.size_local * self.bs
        self.N = imap.size_global * self.bs
        self.m = num_multipliers
        self.K = dolfinx.fem.petsc.create_matrix(jacobian)
        self.b_w = dolfinx.fem.petsc.create_vector(W)
        self.last = comm.rank == comm.size - 1
        if self.m == 0:
            self.A = self.K
            self.x = dolfinx.fem.petsc.create_vector(W)
            self.b = dolfinx.fem.petsc.create_vector(W)
            return
        n_local = self.n_owned + (self.m if self.last else 0)
        size = (n_local, self.N + self.m)
        self.x = PETSc.Vec().createMPI(size, comm=comm)
        self.b = self.x.duplicate()
        rstart = comm.scan(self.n_owned) - self.n_owned
        self.rows = np.arange(rstart, rstart + self.n_owned, dtype=PETSc.IntType)
        self.extra = np.arange(self.N, self.N + self.m, dtype=PETSc.IntType)
        # Preallocation from K's pattern: assembled once (explicit zeros are
        # kept as entries).
        dolfinx.fem.petsc.assemble_matrix(self.K, jacobian, bcs=[], diag=1.0)
        self.K.assemble()
        indptr, indices, _ = self.K.getValuesCSR()
        lo, hi = self.x.getOwnershipRange()
        diag = np.add.reduceat((indices >= lo) & (indices < hi), indptr[:-1]) if indices.size else np.zeros(0)
        counts = np.diff(indptr)
        diag = np.where(counts > 0, diag, 0).astype(PETSc.IntType)
        off = (counts - diag).astype(PETSc.IntType)
        if self.last:
            d_nnz = np.concatenate([diag + self.m, np.full(self.m, n_local, PETSc.IntType)])
            o_nnz = np.concatenate([off, np.full(self.m, self.N + self.m - n_local, PETSc.IntType)])
        else:
            d_nnz, o_nnz = diag, off + self.m
        self.A = PETSc.Mat().createAIJ((size, size), nnz=(d_nnz, o_nnz), comm=comm)
        self.A.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        self.A.setUp()

    # -- vectors ------------------------------------------------------------

    def to_function(self, x: PETSc.Vec, w) -> np.ndarray:
        """Copy the field part of ``x`` into ``w`` (with ghosts); return the
        multipliers (the same on every rank).  Collective."""
        array = x.getArray(readonly=True)
        w.x.array[: self.n_owned] = array[: self.n_owned]
        w.x.scatter_forward()
        if self.m == 0:
            return np.zeros(0)
        values = array[self.n_owned :].copy() if self.last else None
        return self.comm.bcast(values, root=self.comm.size - 1)

    def from_function(self, w, multipliers: np.ndarray, x: PETSc.Vec) -> None:
        """Write ``w`` and the multipliers into ``x``."""
        array = x.getArray()
        array[: self.n_owned] = w.x.array[: self.n_owned]
        if self.m and self.last:
            array[self.n_owned :] = multipliers
        x.assemble()

    def finish_residual(self, residuals: np.ndarray, b: PETSc.Vec) -> None:
        """Copy the assembled field residual ``b_w`` and the multipliers'
        residuals into ``b``: the function vector of SNES, or a work vector
        of its line search or trust region (``b_w`` is never either, so
        assembling never overwrites the ``F(x)`` SNES keeps)."""
        array = b.getArray()
        array[: self.n_owned] = self.b_w.getArray(readonly=True)[: self.n_owned]
        if self.m and self.last:
            array[self.n_owned :] = residuals

    # -- matrix -------------------------------------------------------------

    def finish_matrix(self, columns: list[np.ndarray], rows: list[np.ndarray], block: np.ndarray) -> None:
        """Build the augmented matrix from the assembled ``K``, the owned
        parts of the border ``columns`` and ``rows`` and the multipliers'
        own ``block`` (m, m), zero unless a target depends on the
        multipliers.  Collective."""
        if self.m == 0:
            return
        A = self.A
        A.zeroEntries()
        indptr, indices, data = self.K.getValuesCSR()
        if self.last:  # the multipliers' rows: empty here, filled below
            indptr = np.concatenate([indptr, np.full(self.m, indptr[-1], indptr.dtype)])
        A.setValuesCSR(indptr, indices, data)
        for k, (col, row) in enumerate(zip(columns, rows, strict=True)):
            A.setValues(self.rows, self.extra[k : k + 1], col.reshape(-1, 1), addv=PETSc.InsertMode.INSERT)
            A.setValues(self.extra[k : k + 1], self.rows, row.reshape(1, -1), addv=PETSc.InsertMode.INSERT)
        if self.last:
            A.setValues(self.extra, self.extra, np.asarray(block, dtype=np.float64), addv=PETSc.InsertMode.INSERT)
        A.assemble()

    def destroy(self) -> None:
        for obj in {id(o): o for o in (self.A, self.K, self.x, self.b, self.b_w)}.values():
            obj.destroy()

