obj\ dir/$$greet.o: /tmp/tmp.x4cVkFCeQk/project/greet.cc \
 /usr/include/stdc-predef.h /tmp/tmp.x4cVkFCeQk/project/include/greet.h
/usr/include/stdc-predef.h:
/tmp/tmp.x4cVkFCeQk/project/include/greet.h:
