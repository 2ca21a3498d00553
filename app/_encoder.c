/*
 * The catalog's one-pass encoder (app.catalog.MixedEncoder) in C: River's
 * StandardScaler on numbers and OneHotEncoder on strings, learning and
 * transforming with the same floating-point operations in the same order, on
 * the same Python dicts, so that every state and every output is bit for bit
 * what the Python code makes (tests/test_model.py checks it against River).
 *
 * Each function first checks every value of the event; on anything but
 * None, bool, int, float and str (or a state of unexpected types) it returns
 * NotImplemented before changing anything, and the caller runs the Python
 * code instead, which raises River's own errors.
 *
 * Built with -ffp-contract=off (setup.py): a fused multiply-add would round
 * once where Python rounds twice.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

static PyObject *ZERO_INT; /* 0: a category learned, absent from an event */
static PyObject *ONE_INT;  /* 1: a category present in an event */

enum kind { SKIP, NUMBER, STRING };

/* a + b and a * b as Python's float arithmetic gives them on x86-64, NaNs
 * included: when both are NaN, the left one's (sign and payload). A compiler
 * may swap the operands of a sum or a product here, and SSE returns the NaN
 * of whichever it put first. */
static inline double add(double a, double b) { return isnan(a) ? a + a : a + b; }
static inline double mul(double a, double b) { return isnan(a) ? a + a : a * b; }

/* Python's var ** 0.5 for a var > 0 (float_pow: NaN and infinity as they
 * are, else libm's pow). */
static inline double root(double var) { return isnan(var) || isinf(var) ? var : pow(var, 0.5); }

/* A number as Python's float arithmetic takes it (an int through
 * PyLong_AsDouble); -1 with an error set for an int too large. */
static int as_double(PyObject *value, double *out) {
    if (PyFloat_CheckExact(value)) {
        *out = PyFloat_AS_DOUBLE(value);
        return 0;
    }
    *out = PyLong_AsDouble(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* What a feature value is to the encoder, or -1 for a value it leaves to
 * the Python code: other types, and ints too large for a float (Python
 * fails on them part-way, and its partial changes are its own). */
static int kind_of(PyObject *name, PyObject *value) {
    if (!PyUnicode_CheckExact(name)) return -1;
    if (value == Py_None) return SKIP;
    if (PyUnicode_CheckExact(value)) return STRING;
    if (PyFloat_CheckExact(value)) return NUMBER;
    if (PyBool_Check(value) || PyLong_CheckExact(value)) {
        double ignored;
        if (as_double(value, &ignored) < 0) {
            PyErr_Clear();
            return -1;
        }
        return NUMBER;
    }
    return -1;
}

/* f"{name}_{value}", River's one-hot key. */
static PyObject *category_key(PyObject *name, PyObject *value) {
    return PyUnicode_FromFormat("%U_%U", name, value);
}

/* Whether every value of x is one the encoder handles here (None only when
 * it is to be skipped). */
static int all_known(PyObject *x, int skip_none) {
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        int kind = kind_of(name, value);
        if (kind < 0 || (kind == SKIP && !skip_none)) return 0;
    }
    return 1;
}

/* transform(x, means, vars, zero, skip_none): MixedEncoder.transform_one(x),
 * or of present(x) with skip_none. */
static PyObject *transform(PyObject *self, PyObject *args) {
    PyObject *x, *means, *vars, *zero;
    int skip_none;
    if (!PyArg_ParseTuple(args, "O!OO!O!p", &PyDict_Type, &x, &means, &PyDict_Type, &vars,
                          &PyDict_Type, &zero, &skip_none))
        return NULL;
    if (!all_known(x, skip_none)) Py_RETURN_NOTIMPLEMENTED;
    /* The union's order: the one-hot part (every category learned, then
     * this event's), then the scaled numbers in the event's order. */
    PyObject *out = PyDict_Copy(zero);
    if (out == NULL) return NULL;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) != STRING) continue;
        PyObject *key = category_key(name, value);
        if (key == NULL || PyDict_SetItem(out, key, ONE_INT) < 0) {
            Py_XDECREF(key);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(key);
    }
    pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) != NUMBER) continue;
        PyObject *scaled;
        /* vars.get(name, 0.0): a name never learned scales to 0.0 and is not
         * stored (MixedEncoder.transform_one says why). */
        PyObject *v = PyDict_GetItemWithError(vars, name);
        if (v == NULL && PyErr_Occurred()) goto fail;
        if (v != NULL && !PyFloat_CheckExact(v)) goto fallback;
        double var = v == NULL ? 0.0 : PyFloat_AS_DOUBLE(v);
        if (var == 0.0) {
            scaled = PyFloat_FromDouble(0.0);
        } else {
            if (var < 0.0) goto fallback; /* Python's ** gives a complex number */
            PyObject *m = PyObject_GetItem(means, name);
            if (m == NULL) goto fail;
            if (!PyFloat_CheckExact(m)) {
                Py_DECREF(m);
                goto fallback;
            }
            double mean = PyFloat_AS_DOUBLE(m), xi;
            Py_DECREF(m);
            if (as_double(value, &xi) < 0) goto fail;
            /* (value - mean) / var**0.5 */
            scaled = PyFloat_FromDouble((xi - mean) / root(var));
        }
        if (scaled == NULL) goto fail;
        int set = PyDict_SetItem(out, name, scaled);
        Py_DECREF(scaled);
        if (set < 0) goto fail;
    }
    return out;
fallback:
    Py_DECREF(out);
    Py_RETURN_NOTIMPLEMENTED;
fail:
    Py_DECREF(out);
    return NULL;
}

/* One number learned by StandardScaler.learn_one (unwindowed, with_std):
 *     counts[i] += 1
 *     old_mean = means[i]
 *     means[i] += (xi - old_mean) / counts[i]
 *     vars_[i] += ((xi - old_mean) * (xi - means[i]) - vars_[i]) / counts[i]
 */
static int learn_number(PyObject *counts, PyObject *means, PyObject *vars, PyObject *name,
                        double xi) {
    PyObject *c = PyObject_GetItem(counts, name); /* Counter: 0 when missing */
    if (c == NULL) return -1;
    PyObject *count = PyNumber_Add(c, ONE_INT);
    Py_DECREF(c);
    if (count == NULL) return -1;
    if (PyDict_SetItem(counts, name, count) < 0) {
        Py_DECREF(count);
        return -1;
    }
    double n = PyLong_AsDouble(count);
    Py_DECREF(count);
    if (n == -1.0 && PyErr_Occurred()) return -1;

    PyObject *m = PyObject_GetItem(means, name); /* defaultdict: stores 0.0 */
    if (m == NULL) return -1;
    double old_mean = PyFloat_AsDouble(m);
    Py_DECREF(m);
    if (old_mean == -1.0 && PyErr_Occurred()) return -1;
    double new_mean = add(old_mean, (xi - old_mean) / n);
    PyObject *mean = PyFloat_FromDouble(new_mean);
    if (mean == NULL) return -1;
    int set = PyDict_SetItem(means, name, mean);
    Py_DECREF(mean);
    if (set < 0) return -1;

    PyObject *v = PyObject_GetItem(vars, name);
    if (v == NULL) return -1;
    double old_var = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (old_var == -1.0 && PyErr_Occurred()) return -1;
    double product = mul(xi - old_mean, xi - new_mean);
    PyObject *var = PyFloat_FromDouble(add(old_var, (product - old_var) / n));
    if (var == NULL) return -1;
    set = PyDict_SetItem(vars, name, var);
    Py_DECREF(var);
    return set;
}

/* One string learned by OneHotEncoder.learn_one (no fixed categories):
 *     vi = values[i]
 *     if xi not in vi: vi.add(xi); zero_dict[f"{i}_{xi}"] = 0
 */
static int learn_string(PyObject *values, PyObject *zero, PyObject *name, PyObject *xi) {
    PyObject *seen = PyObject_GetItem(values, name); /* defaultdict(set) */
    if (seen == NULL) return -1;
    if (!PySet_Check(seen)) {
        Py_DECREF(seen);
        PyErr_SetString(PyExc_TypeError, "one-hot categories must be sets");
        return -1;
    }
    int known = PySet_Contains(seen, xi);
    if (known == 0) known = PySet_Add(seen, xi);
    else if (known == 1) known = 2;
    Py_DECREF(seen);
    if (known < 0) return -1;
    if (known == 2) return 0;
    PyObject *key = category_key(name, xi);
    if (key == NULL) return -1;
    int set = PyDict_SetItem(zero, key, ZERO_INT);
    Py_DECREF(key);
    return set;
}

/* learn(x, counts, means, vars, values, zero): MixedEncoder.learn_one(x). */
static PyObject *learn(PyObject *self, PyObject *args) {
    PyObject *x, *counts, *means, *vars, *values, *zero;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!", &PyDict_Type, &x, &PyDict_Type, &counts,
                          &PyDict_Type, &means, &PyDict_Type, &vars, &PyDict_Type, &values,
                          &PyDict_Type, &zero))
        return NULL;
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    /* None is not skipped here: River's scaler fails on it, and so does the
     * Python code this leaves it to. */
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) <= SKIP) Py_RETURN_NOTIMPLEMENTED;
    }
    /* Counts of an exact int and means and vars of exact floats only: the
     * arithmetic below is float arithmetic. */
    pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) != NUMBER) continue;
        PyObject *c = PyDict_GetItemWithError(counts, name);
        PyObject *m = c == NULL ? NULL : PyDict_GetItemWithError(means, name);
        PyObject *v = m == NULL ? NULL : PyDict_GetItemWithError(vars, name);
        if (PyErr_Occurred()) return NULL;
        if (c == NULL) continue; /* a name never learned starts from 0, 0.0, 0.0 */
        if (!PyLong_CheckExact(c) || m == NULL || !PyFloat_CheckExact(m) || v == NULL ||
            !PyFloat_CheckExact(v))
            Py_RETURN_NOTIMPLEMENTED;
    }
    pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) != NUMBER) continue;
        double xi;
        if (as_double(value, &xi) < 0 || learn_number(counts, means, vars, name, xi) < 0)
            return NULL;
    }
    pos = 0;
    while (PyDict_Next(x, &pos, &name, &value)) {
        if (kind_of(name, value) != STRING) continue;
        if (learn_string(values, zero, name, value) < 0) return NULL;
    }
    Py_RETURN_NONE;
}

/* logistic(z): River's utils.math.sigmoid as a float (0.0 below -30, 1.0
 * above 30, else 1 / (1 + exp(-z))). */
static PyObject *logistic(PyObject *self, PyObject *arg) {
    double z = PyFloat_AsDouble(arg);
    if (z == -1.0 && PyErr_Occurred()) return NULL;
    if (z < -30) return PyFloat_FromDouble(0.0);
    if (z > 30) return PyFloat_FromDouble(1.0);
    return PyFloat_FromDouble(1 / add(1, exp(-z)));
}

static PyMethodDef methods[] = {
    {"transform", transform, METH_VARARGS,
     "transform(x, means, vars, zero, skip_none) -> dict: MixedEncoder.transform_one(x) "
     "(of present(x) with skip_none), or NotImplemented for values it leaves to Python."},
    {"learn", learn, METH_VARARGS,
     "learn(x, counts, means, vars, values, zero) -> None: MixedEncoder.learn_one(x), or "
     "NotImplemented (nothing changed) for values it leaves to Python."},
    {"logistic", logistic, METH_O, "logistic(z) -> float: River's sigmoid, as a float."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "app._encoder",
    "The catalog's one-pass encoder, compiled: bit for bit the Python code's.", -1, methods,
};

PyMODINIT_FUNC PyInit__encoder(void) {
    ZERO_INT = PyLong_FromLong(0);
    ONE_INT = PyLong_FromLong(1);
    if (ZERO_INT == NULL || ONE_INT == NULL) return NULL;
    return PyModule_Create(&module);
}
