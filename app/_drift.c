/*
 * The drift windows' histogram (app.drift.histogram) in C: per feature, the
 * count of each value's bucket, each bucket exactly what app.drift.bucket
 * gives (the same libm log and ceil Python's math module calls). Values
 * other than bools, finite floats and strs go to bucket itself, so what it
 * does with them (ints; its errors on what is not finite) is unchanged.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* Bucket names of numbers, made once: "p<k>" and "n<k>" for k in
 * [K_MIN, K_MAX] (finite doubles above the zero bucket's 1e-12 and a gamma
 * of 1.05 / 0.95 give k from -276 to 7,100); others are made each time. */
#define K_MIN (-400)
#define K_MAX 7200
static PyObject *POSITIVE[K_MAX - K_MIN + 1];
static PyObject *NEGATIVE[K_MAX - K_MIN + 1];
static PyObject *ZERO, *ONE;

/* A new reference to a float's bucket name, or NULL with an error. */
static PyObject *number_key(double value, double tiny, double log_gamma) {
    double magnitude = fabs(value);
    if (magnitude < tiny) return Py_NewRef(ZERO);
    double k = ceil(log(magnitude) / log_gamma);
    int positive = value > 0;
    if (k >= K_MIN && k <= K_MAX) {
        PyObject **names = positive ? POSITIVE : NEGATIVE;
        Py_ssize_t i = (Py_ssize_t)k - K_MIN;
        if (names[i] == NULL) {
            names[i] = PyUnicode_FromFormat("%c%zd", positive ? 'p' : 'n', (Py_ssize_t)k);
            if (names[i] == NULL) return NULL;
        }
        return Py_NewRef(names[i]);
    }
    return PyUnicode_FromFormat("%c%lld", positive ? 'p' : 'n', (long long)k);
}

/* What names a bucket, besides numbers: the category prefix, and the
 * buckets of True and False. */
struct names {
    PyObject *category, *true_key, *false_key;
};

/* A new reference to the bucket name of any value but None. */
static PyObject *key_of(PyObject *value, PyObject *bucket, struct names *names, double tiny,
                        double log_gamma) {
    if (PyFloat_CheckExact(value)) {
        double v = PyFloat_AS_DOUBLE(value);
        if (isfinite(v)) return number_key(v, tiny, log_gamma);
    } else if (PyBool_Check(value)) {
        return Py_NewRef(value == Py_True ? names->true_key : names->false_key);
    } else if (PyUnicode_CheckExact(value)) {
        /* CATEGORY + value[:64] */
        PyObject *head = PyUnicode_Substring(value, 0, 64);
        if (head == NULL) return NULL;
        PyObject *key = PyUnicode_Concat(names->category, head);
        Py_DECREF(head);
        return key;
    }
    return PyObject_CallOneArg(bucket, value);
}

/* histogram(rows, counter, bucket, category, tiny, log_gamma):
 * app.drift.histogram of a list of dicts, each feature's counts in a new
 * ``counter()``. */
static PyObject *histogram(PyObject *self, PyObject *args) {
    PyObject *rows, *counter, *bucket, *category;
    double tiny, log_gamma;
    if (!PyArg_ParseTuple(args, "O!OOUdd", &PyList_Type, &rows, &counter, &bucket, &category,
                          &tiny, &log_gamma))
        return NULL;
    struct names names = {category, NULL, NULL};
    names.true_key = PyUnicode_FromFormat("%Utrue", category);
    names.false_key = PyUnicode_FromFormat("%Ufalse", category);
    /* Every feature, in the order first seen (with or without a value). */
    PyObject *counts = PyDict_New();
    if (names.true_key == NULL || names.false_key == NULL || counts == NULL) goto fail;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyDict_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "histogram: each row must be a dict");
            goto fail;
        }
        PyObject *name, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(row, &pos, &name, &value)) {
            PyObject *hist = PyDict_GetItemWithError(counts, name);
            if (hist == NULL) {
                if (PyErr_Occurred()) goto fail;
                hist = PyObject_CallNoArgs(counter);
                if (hist == NULL) goto fail;
                int set = PyDict_SetItem(counts, name, hist);
                Py_DECREF(hist);
                if (set < 0) goto fail;
            }
            if (value == Py_None) continue;
            PyObject *key = key_of(value, bucket, &names, tiny, log_gamma);
            if (key == NULL) goto fail;
            PyObject *seen = PyDict_GetItemWithError(hist, key);
            PyObject *total = seen == NULL ? (PyErr_Occurred() ? NULL : Py_NewRef(ONE))
                                           : PyNumber_Add(seen, ONE);
            int set = total == NULL ? -1 : PyDict_SetItem(hist, key, total);
            Py_XDECREF(total);
            Py_DECREF(key);
            if (set < 0) goto fail;
        }
    }
    /* Features that never had a value are left out. */
    PyObject *out = PyDict_New();
    if (out == NULL) goto fail;
    PyObject *name, *hist;
    Py_ssize_t pos = 0;
    while (PyDict_Next(counts, &pos, &name, &hist)) {
        if (PyDict_GET_SIZE(hist) > 0 && PyDict_SetItem(out, name, hist) < 0) {
            Py_DECREF(out);
            goto fail;
        }
    }
    Py_DECREF(counts);
    Py_DECREF(names.true_key);
    Py_DECREF(names.false_key);
    return out;
fail:
    Py_XDECREF(counts);
    Py_XDECREF(names.true_key);
    Py_XDECREF(names.false_key);
    return NULL;
}

static PyMethodDef methods[] = {
    {"histogram", histogram, METH_VARARGS,
     "histogram(rows, counter, bucket, category, tiny, log_gamma) -> dict: "
     "app.drift.histogram of a list of dicts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "app._drift",
    "The drift windows' histogram, compiled: each value in app.drift.bucket's bucket.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__drift(void) {
    ZERO = PyUnicode_InternFromString("z");
    ONE = PyLong_FromLong(1);
    if (ZERO == NULL || ONE == NULL) return NULL;
    return PyModule_Create(&module);
}
