obj\ dir/$$greet.o: /tmp/kiln-fuzz-corpus/project/greet.cc \
 /usr/include/stdc-predef.h /tmp/kiln-fuzz-corpus/project/include/greet.h
/usr/include/stdc-predef.h:
/tmp/kiln-fuzz-corpus/project/include/greet.h:
