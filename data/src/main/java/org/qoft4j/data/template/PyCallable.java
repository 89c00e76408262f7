package org.qoft4j.data.template;

import java.util.List;
import java.util.Map;

/** Anything a template can call: globals ({@code range}, {@code namespace}, ...), macros, bound Python methods. */
interface PyCallable {
    Object call(List<Object> args, Map<String, Object> kwargs);
}
