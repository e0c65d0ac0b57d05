#include <hdf5.h>
#include <stdio.h>

/* HDF5's property-list, selection, flag and type constants are macros Swift cannot import; these return them. */
static inline hid_t chdf5_default_properties(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_all_elements(void) { return H5S_ALL; }
static inline unsigned chdf5_read_only(void) { return H5F_ACC_RDONLY; }
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }

/* Stops HDF5 printing its error stack to stderr on this thread; callers report errors themselves. */
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* > 0 when `path` is an HDF5 file, 0 when it is not, < 0 when it cannot be read. */
static inline htri_t chdf5_is_hdf5(const char *path) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(path, H5P_DEFAULT);
#else
    return H5Fis_hdf5(path);
#endif
}

typedef struct {
    char *buffer;
    size_t size;
} chdf5_message;

static herr_t chdf5_take_innermost(unsigned n, const H5E_error2_t *error, void *data) {
    chdf5_message *message = (chdf5_message *)data;
    if (n == 0 && error->desc != NULL) snprintf(message->buffer, message->size, "%s", error->desc);
    return 0;
}

/* Writes the innermost description on this thread's HDF5 error stack into `buffer` (empty when there is none). */
static inline void chdf5_innermost_error(char *buffer, size_t size) {
    if (size == 0) return;
    buffer[0] = 0;
    chdf5_message message = {buffer, size};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5_take_innermost, &message);
}
