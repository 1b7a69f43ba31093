# Sourced by the image-folder e2e scripts after they set $work and $python: checks.sh, then the
# tiny image folder and ResNet-18 files of make_tiny_image_folder.py in $work. OpenMP threads
# wait passively: on shared cores their spinning made these 224x224 runs twice as slow.
export OMP_WAIT_POLICY=passive
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/checks.sh"
"$python" "$here/make_tiny_image_folder.py" "$work" || exit 1
