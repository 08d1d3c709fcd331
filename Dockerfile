# organfem on the official DOLFINx image (DOLFINx 0.11 with PETSc, MPI, HDF5,
# and a Python 3.12 environment that `python3` points at).
#
# Not built in this repository's CI (no container engine there); build with
#   docker build -t organfem .
#   docker run --rm -v "$PWD/results:/organfem/results" organfem \
#       mpirun -n 4 python3 solvers/lv_inflation.py --out results/lv_inflation
FROM ghcr.io/fenics/dolfinx/dolfinx:v0.11.0

# Shared libraries the gmsh wheel (GLU, Xcursor, Xinerama, Xft, OpenMP) and
# off-screen VTK rendering (Mesa GL/EGL/OSMesa, Xrender) load at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libgl1 libgl1-mesa-dri libegl1 libosmesa6 libxrender1 \
        libglu1-mesa libxcursor1 libxinerama1 libxft2 libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /organfem

# The image provides DOLFINx, petsc4py, mpi4py and numpy built against its own
# MPI and PETSc; only the remaining dependencies come from PyPI, at the versions
# pinned in constraints.txt (the wheel-based solver stack there is skipped).
COPY constraints.txt ./
RUN grep -iE '^(jax|jaxlib|ml_dtypes|opt_einsum|scipy|meshio|h5py|pyvista|pyvista-validation|vtk|gmsh|matplotlib|pytest|simpleitk|pydicom|nibabel|pyacvd|pytetwild)==' \
        constraints.txt > /tmp/pins.txt \
 && python3 -m pip install --no-cache-dir -c /tmp/pins.txt \
        jax meshio h5py pyvista gmsh matplotlib scipy pytest \
        SimpleITK pydicom nibabel pyacvd pytetwild \
 && rm /tmp/pins.txt

COPY . .
RUN python3 -m pip install --no-cache-dir --no-deps -e .

ENV MPLBACKEND=Agg \
    PYVISTA_OFF_SCREEN=true

CMD ["organfem", "--help"]
