/* Optional accelerator for noio_ws, in C: masking (RFC 6455 section 5.3),
 * whole frames built in one allocation, and the check of a text frame's
 * payload as its bytes arrive (section 8.1).
 *
 * The pure-Python implementations (_mask.py, _frame.serialize_python,
 * _utf8.ArrivingTextPython) are the
 * reference and are always available; this module only has to give the same
 * answers faster (tests/test_speedups.py compares them). setup.py builds it when
 * a compiler is present, and NOIO_WS_PURE_PYTHON=1 makes the package ignore it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Releasing the GIL costs more than it saves below this size. */
#define RELEASE_GIL_ABOVE (64 * 1024)

#if defined(__GNUC__) || defined(__clang__)
/* 32 bytes at a time, in the widest registers the target always has (SSE2 on
   x86-64, NEON on arm64): the compilers' vector extension, no intrinsics. */
typedef uint64_t wide_t __attribute__((vector_size(32)));
#define WIDE 32
#endif

static void
xor_mask(unsigned char *out, const unsigned char *in, Py_ssize_t size, const unsigned char key[4])
{
    unsigned char repeated[32];
    uint64_t key64, word;
    Py_ssize_t i = 0;

    for (int j = 0; j < 32; j++) {
        repeated[j] = key[j & 3];
    }
#ifdef WIDE
    {
        wide_t key_wide, block;
        memcpy(&key_wide, repeated, WIDE);
        /* memcpy keeps unaligned access legal and compiles to plain loads and stores. */
        for (; i + WIDE <= size; i += WIDE) {
            memcpy(&block, in + i, WIDE);
            block ^= key_wide;
            memcpy(out + i, &block, WIDE);
        }
    }
#endif
    memcpy(&key64, repeated, 8);
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

/* -------------------------------------------------------------- serialize */

PyDoc_STRVAR(serialize_doc,
"serialize(first_byte, payload, mask_key, /)\n--\n\n"
"A whole frame: header, then the payload, masked with *mask_key* if not None.\n"
"The length always takes its shortest form (section 5.2).");

static PyObject *
serialize(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer payload, key;
    unsigned char *out;
    Py_ssize_t size, header;
    long first;
    int masked;
    PyObject *result;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "serialize() takes 3 arguments");
        return NULL;
    }
    first = PyLong_AsLong(args[0]);
    if (first == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (first < 0 || first > 0xFF) {
        PyErr_SetString(PyExc_ValueError, "the first byte must be in range(256)");
        return NULL;
    }
    masked = args[2] != Py_None;
    if (masked) {
        if (PyObject_GetBuffer(args[2], &key, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        if (key.len != 4) {
            PyBuffer_Release(&key);
            PyErr_SetString(PyExc_ValueError, "the mask key must be 4 bytes");
            return NULL;
        }
    }
    if (PyObject_GetBuffer(args[1], &payload, PyBUF_SIMPLE) < 0) {
        if (masked) {
            PyBuffer_Release(&key);
        }
        return NULL;
    }
    size = payload.len;
    header = (size < 126 ? 2 : size < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
    result = PyBytes_FromStringAndSize(NULL, header + size);
    if (result != NULL) {
        out = (unsigned char *)PyBytes_AS_STRING(result);
        out[0] = (unsigned char)first;
        if (size < 126) {
            out[1] = (unsigned char)size;
        }
        else if (size < 0x10000) {
            out[1] = 126;
            out[2] = (unsigned char)(size >> 8);
            out[3] = (unsigned char)size;
        }
        else {
            uint64_t length = (uint64_t)size;
            out[1] = 127;
            for (int j = 0; j < 8; j++) {
                out[2 + j] = (unsigned char)(length >> (56 - 8 * j));
            }
        }
        if (masked) {
            out[1] |= 0x80;
            memcpy(out + header - 4, key.buf, 4);
            if (mask_into(out + header, &payload, &key, 0) < 0) {
                Py_CLEAR(result);
            }
        }
        else {
            memcpy(out + header, payload.buf, (size_t)size);
        }
    }
    PyBuffer_Release(&payload);
    if (masked) {
        PyBuffer_Release(&key);
    }
    return result;
}

/* ------------------------------------------------------------ ArrivingText */

/* The check of a text frame's payload as it arrives, byte by byte if need be:
   a walk of the UTF-8 grammar (RFC 3629 section 4) over the unmasked bytes.
   On an invalid byte, the words of the error come from Python
   (noio_ws._utf8.invalid_sequence), so both builds say the same. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t start;       /* where the payload begins in the buffer */
    Py_ssize_t end;         /* and where it ends */
    unsigned char key[4];   /* learnt as it passes, in the four bytes before the payload */
    int masked;
    int needed;             /* continuation bytes the begun character still needs */
    unsigned char low;      /* the range the next of them must fall in */
    unsigned char high;
    unsigned char chr[4];   /* the begun character's bytes so far */
    int chr_len;
} ArrivingTextObject;

static PyObject *
arriving_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t start, end;
    int masked;
    ArrivingTextObject *self;

    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "ArrivingText() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "nnp:ArrivingText", &start, &end, &masked)) {
        return NULL;
    }
    self = (ArrivingTextObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->start = start;
    self->end = end;
    self->masked = masked;
    self->low = 0x80;
    self->high = 0xBF;
    return (PyObject *)self;
}

static void
arriving_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);  /* instances of a heap type hold a reference to it */
}

/* Raise what noio_ws._utf8.invalid_sequence() makes of *seq*. */
static void
raise_invalid(const unsigned char *seq, Py_ssize_t size)
{
    PyObject *module, *error = NULL;

    module = PyImport_ImportModule("noio_ws._utf8");
    if (module != NULL) {
        error = PyObject_CallMethod(module, "invalid_sequence", "y#", (const char *)seq, size);
        Py_DECREF(module);
    }
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
}

PyDoc_STRVAR(arriving_check_doc,
"check(data, position, /)\n--\n\n"
"Check *data*, received at *position* in the buffer; 1007 at an invalid byte.\n"
"Data that makes the frame whole is not checked: the parse that follows checks\n"
"the whole frame.");

static PyObject *
arriving_check(ArrivingTextObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *data;
    Py_ssize_t size, position, offset, first, k;
    int held = 0;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "check() takes 2 arguments");
        return NULL;
    }
    position = PyLong_AsSsize_t(args[1]);
    if (position == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyBytes_CheckExact(args[0])) {  /* what a transport gives: no buffer to hold */
        data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
        size = PyBytes_GET_SIZE(args[0]);
    }
    else {
        if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        held = 1;
        data = view.buf;
        size = view.len;
    }
    if (position + size >= self->end) {
        /* The frame is whole: the parse that follows checks it. */
        if (held) {
            PyBuffer_Release(&view);
        }
        Py_RETURN_NONE;
    }
    /* Only the payload: the header's last bytes may come first (the frame is not whole
       yet, so nothing of the next frame comes after). */
    offset = position - self->start;
    first = offset < 0 ? -offset : 0;
    if (self->masked && offset < 0) {
        for (k = first > 4 ? first - 4 : 0; k < first && k < size; k++) {
            self->key[offset + k + 4] = data[k];
        }
    }
    for (k = first; k < size; k++) {
        unsigned char byte = data[k] ^ (self->masked ? self->key[(offset + k) & 3] : 0);
        if (self->needed) {
            if (byte < self->low || byte > self->high) {
                goto invalid;
            }
            self->low = 0x80;
            self->high = 0xBF;
            if (--self->needed) {
                self->chr[self->chr_len++] = byte;
            }
            else {
                self->chr_len = 0;
            }
            continue;
        }
        if (byte < 0x80) {
            continue;
        }
        if (byte >= 0xC2 && byte <= 0xDF) {
            self->needed = 1;
        }
        else if (byte >= 0xE0 && byte <= 0xEF) {
            self->needed = 2;
            if (byte == 0xE0) {
                self->low = 0xA0;  /* no overlong forms */
            }
            else if (byte == 0xED) {
                self->high = 0x9F;  /* no surrogates */
            }
        }
        else if (byte >= 0xF0 && byte <= 0xF4) {
            self->needed = 3;
            if (byte == 0xF0) {
                self->low = 0x90;
            }
            else if (byte == 0xF4) {
                self->high = 0x8F;  /* nothing above U+10FFFF */
            }
        }
        else {
            goto invalid;
        }
        self->chr[0] = byte;
        self->chr_len = 1;
    }
    if (held) {
        PyBuffer_Release(&view);
    }
    Py_RETURN_NONE;

invalid:
    {
        /* The begun character, the invalid byte and what follows it in this piece
           (the decoder's words may depend on them); at most 7 bytes. */
        unsigned char seq[8];
        Py_ssize_t used = self->chr_len, j;
        memcpy(seq, self->chr, (size_t)used);
        for (j = k; j < size && j < k + 4; j++) {
            seq[used++] = data[j] ^ (self->masked ? self->key[(offset + j) & 3] : 0);
        }
        if (held) {
            PyBuffer_Release(&view);
        }
        raise_invalid(seq, used);
        return NULL;
    }
}

static PyMethodDef arriving_methods[] = {
    {"check", (PyCFunction)(void (*)(void))arriving_check, METH_FASTCALL, arriving_check_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(arriving_doc,
"ArrivingText(start, end, masked, /)\n--\n\n"
"The check of a text frame's payload (buffer[start:end], masked with the key in\n"
"buffer[start - 4:start] if *masked*) as it arrives in a buffer, before the frame\n"
"is whole.");

static PyType_Slot arriving_slots[] = {
    {Py_tp_new, arriving_new},
    {Py_tp_dealloc, arriving_dealloc},
    {Py_tp_methods, arriving_methods},
    {Py_tp_doc, (void *)arriving_doc},
    {0, NULL},
};

static PyType_Spec arriving_spec = {
    "noio_ws._speedups.ArrivingText",
    sizeof(ArrivingTextObject),
    0,
    Py_TPFLAGS_DEFAULT,
    arriving_slots,
};

static int
speedups_exec(PyObject *module)
{
    PyObject *type = PyType_FromSpec(&arriving_spec);
    if (type == NULL) {
        return -1;
    }
    int status = PyModule_AddObjectRef(module, "ArrivingText", type);
    Py_DECREF(type);
    return status;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {"apply_mask_into", (PyCFunction)(void (*)(void))apply_mask_into, METH_FASTCALL, apply_mask_into_doc},
    {"serialize", (PyCFunction)(void (*)(void))serialize, METH_FASTCALL, serialize_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "noio_ws._speedups",
    "Optional C accelerator for noio_ws (masking, text checked as it arrives).",
    0,
    speedups_methods,
    speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
