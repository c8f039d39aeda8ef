/* Anchor translation unit for libember.so: all code comes from ember_core. */
