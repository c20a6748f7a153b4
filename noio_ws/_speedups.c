/* Optional accelerator for noio_ws: masking (RFC 6455 section 5.3) in C.
 *
 * The pure-Python implementation in _frame.py is the reference and is always
 * available; this module only has to give the same answers faster. setup.py
 * builds it when a compiler is present, and NOIO_WS_PURE_PYTHON=1 makes the
 * package ignore it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Releasing the GIL costs more than it saves below this size. */
#define RELEASE_GIL_ABOVE (64 * 1024)

static void
xor_mask(unsigned char *out, const unsigned char *in, Py_ssize_t size, const unsigned char key[4])
{
    unsigned char wide[8];
    uint64_t key64, word;
    Py_ssize_t i = 0;

    for (int j = 0; j < 8; j++) {
        wide[j] = key[j & 3];
    }
    memcpy(&key64, wide, 8);
    /* Eight bytes at a time; memcpy keeps unaligned access legal and compiles
       to plain loads and stores. */
    for (; i + 8 <= size; i += 8) {
        memcpy(&word, in + i, 8);
        word ^= key64;
        memcpy(out + i, &word, 8);
    }
    for (; i < size; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

/* Read the optional offset argument at args[index]; -1 with an exception set. */
static int
offset_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t index, Py_ssize_t *offset)
{
    *offset = 0;
    if (nargs > index) {
        *offset = PyLong_AsSsize_t(args[index]);
        if (*offset == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* What both functions share: check the key, rotate it by the offset, and XOR
   *data* into *out* (without the GIL for large data). -1 with an exception set. */
static int
mask_into(unsigned char *out, const Py_buffer *data, const Py_buffer *key, Py_ssize_t offset)
{
    unsigned char rotated[4];

    if (key->len != 4) {
        PyErr_SetString(PyExc_ValueError, "the mask key must be 4 bytes");
        return -1;
    }
    for (int j = 0; j < 4; j++) {
        rotated[j] = ((const unsigned char *)key->buf)[(offset + j) & 3];
    }
    if (data->len > RELEASE_GIL_ABOVE) {
        Py_BEGIN_ALLOW_THREADS
        xor_mask(out, data->buf, data->len, rotated);
        Py_END_ALLOW_THREADS
    }
    else {
        xor_mask(out, data->buf, data->len, rotated);
    }
    return 0;
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, key, offset=0, /)\n--\n\n"
"XOR *data* with the 4-byte *key*, starting *offset* bytes into the key.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    Py_ssize_t offset;
    PyObject *result = NULL;

    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes 2 or 3 arguments");
        return NULL;
    }
    if (offset_arg(args, nargs, 2, &offset) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL && mask_into((unsigned char *)PyBytes_AS_STRING(result), &data, &key, offset) < 0) {
        Py_CLEAR(result);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

PyDoc_STRVAR(apply_mask_into_doc,
"apply_mask_into(target, data, key, offset=0, /)\n--\n\n"
"Write *data* XORed with *key* into the writable buffer *target*, of the same size.");

static PyObject *
apply_mask_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer target, data, key;
    Py_ssize_t offset;
    PyObject *result = NULL;

    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "apply_mask_into() takes 3 or 4 arguments");
        return NULL;
    }
    if (offset_arg(args, nargs, 3, &offset) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &target, PyBUF_WRITABLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&target);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&target);
        return NULL;
    }
    if (target.len != data.len) {
        PyErr_SetString(PyExc_ValueError, "the target and the data differ in size");
    }
    else if (mask_into(target.buf, &data, &key, offset) == 0) {
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    PyBuffer_Release(&target);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {"apply_mask_into", (PyCFunction)(void (*)(void))apply_mask_into, METH_FASTCALL, apply_mask_into_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "noio_ws._speedups",
    "Optional C accelerator for noio_ws (masking).",
    0,
    speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
