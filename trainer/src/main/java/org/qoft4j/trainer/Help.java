package org.qoft4j.trainer;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * What a {@link TrainConfig} option means, for {@code finetune --help}: the command line builds one flag per option
 * from the record's components, so an option and its flag are defined once, here.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.FIELD, ElementType.PARAMETER})
public @interface Help {
    /** One line; {@code ${DEFAULT}} is replaced by the default value. */
    String value();

    /** The value's placeholder in the usage line ({@code N}, {@code DIR}, {@code oft|lora}); derived from the type when empty. */
    String label() default "";
}
