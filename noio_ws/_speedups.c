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

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, key, offset=0, /)\n--\n\n"
"XOR *data* with the 4-byte *key*, starting *offset* bytes into the key.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    Py_ssize_t offset = 0;
    unsigned char rotated[4];
    PyObject *result = NULL;

    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes 2 or 3 arguments");
        return NULL;
    }
    if (nargs == 3) {
        offset = PyLong_AsSsize_t(args[2]);
        if (offset == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (key.len != 4) {
        PyErr_SetString(PyExc_ValueError, "the mask key must be 4 bytes");
        goto done;
    }
    for (int j = 0; j < 4; j++) {
        rotated[j] = ((const unsigned char *)key.buf)[(offset + j) & 3];
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) {
        goto done;
    }
    if (data.len > RELEASE_GIL_ABOVE) {
        Py_BEGIN_ALLOW_THREADS
        xor_mask((unsigned char *)PyBytes_AS_STRING(result), data.buf, data.len, rotated);
        Py_END_ALLOW_THREADS
    }
    else {
        xor_mask((unsigned char *)PyBytes_AS_STRING(result), data.buf, data.len, rotated);
    }
done:
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
    Py_ssize_t offset = 0;
    unsigned char rotated[4];
    PyObject *result = NULL;

    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "apply_mask_into() takes 3 or 4 arguments");
        return NULL;
    }
    if (nargs == 4) {
        offset = PyLong_AsSsize_t(args[3]);
        if (offset == -1 && PyErr_Occurred()) {
            return NULL;
        }
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
    if (key.len != 4) {
        PyErr_SetString(PyExc_ValueError, "the mask key must be 4 bytes");
        goto done;
    }
    if (target.len != data.len) {
        PyErr_SetString(PyExc_ValueError, "the target and the data differ in size");
        goto done;
    }
    for (int j = 0; j < 4; j++) {
        rotated[j] = ((const unsigned char *)key.buf)[(offset + j) & 3];
    }
    if (data.len > RELEASE_GIL_ABOVE) {
        Py_BEGIN_ALLOW_THREADS
        xor_mask(target.buf, data.buf, data.len, rotated);
        Py_END_ALLOW_THREADS
    }
    else {
        xor_mask(target.buf, data.buf, data.len, rotated);
    }
    result = Py_NewRef(Py_None);
done:
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
