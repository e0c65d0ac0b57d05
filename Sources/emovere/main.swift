import Emovere
print("emovere")
